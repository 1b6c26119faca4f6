#!/bin/bash
# mkcorpus.sh DIR: writes the binary half of the TLS-RPT corpus into DIR
# (.json.gz, .eml, mbox, the inflate bomb), made from the .json files
# beside this script, so that no binary file is committed. Same bytes on
# every run (gzip mtime 0, fixed boundaries and seeds; the deflate bytes
# are zlib's, so another zlib may give other bytes). See README.
#
#   DIR/good/   reports that parse (the committed good/ is the rest)
#   DIR/dup/    another form of a report in good/ (same report-id)
#   DIR/bad/    inputs that must fail cleanly: truncated, broken, bombs
#   DIR/extra/  valid, kept out of good/: past a cap, or a zlib stream
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1/good" "$1/dup" "$1/bad" "$1/extra"

exec python3 - "$here" "$1" <<'EOF'
import base64
import json
import os
import random
import struct
import sys
import zlib

SRC, OUT = sys.argv[1], sys.argv[2]


def read(rel):
    with open(os.path.join(SRC, rel), "rb") as f:
        return f.read()


def write(rel, data):
    path = os.path.join(OUT, rel)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def deflate(chunks):
    """Raw deflate of an iterable of byte strings, with its CRC and size."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body, crc, size = [], 0, 0
    for b in chunks:
        crc = zlib.crc32(b, crc)
        size += len(b)
        body.append(c.compress(b))
    body.append(c.flush())
    return b"".join(body), crc, size


def gz(data, flags=0, os_byte=3, extra=b"", name=b"", comment=b"",
       mtime=0):
    """One gzip member (RFC 1952), header built here so that it does not
    depend on the Python version: by default no name, mtime 0, OS Unix."""
    chunks = data if isinstance(data, list) else [data]
    body, crc, size = deflate(chunks)
    hdr = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", mtime)
    hdr += bytes([2, os_byte])
    if flags & 0x04:
        hdr += struct.pack("<H", len(extra)) + extra
    if flags & 0x08:
        hdr += name + b"\0"
    if flags & 0x10:
        hdr += comment + b"\0"
    if flags & 0x02:
        hdr += struct.pack("<H", zlib.crc32(hdr) & 0xffff)
    return hdr + body + struct.pack("<II", crc, size & 0xffffffff)


def b64(data, nl="\n"):
    """Base64 in 76-character lines, as mailers write it."""
    s = base64.b64encode(data).decode()
    return nl.join(s[i:i + 76] for i in range(0, len(s), 76)) + nl


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


# --- gzip forms, each of its own report (no report-id twice in good/) ---

google20 = gz(read("gen/google-example.org-2026-11-20.json"))
write("good/google-style.json.gz", google20)

# Odd but valid gzip headers: FEXTRA, FNAME, FCOMMENT and a header CRC,
# an mtime, OS "FAT" (RFC 1952 2.3.1), as Windows-side gzip tools write.
write("good/odd-gzip-header.json.gz",
      gz(read("gen/google-example.org-2026-11-17.json"), flags=0x1e,
         os_byte=0, extra=b"AP\x04\x00tlsr",
         name=b"google.com!example.org!1794873600!1794959999.json",
         comment=b"SMTP TLS report", mtime=1794960000))

# Two gzip members: a gunzip must read on past the first (RFC 1952 2.2).
j = read("gen/google-example.org-2026-11-18.json")
write("good/multi-member.json.gz", gz(j[:len(j) // 2]) + gz(j[len(j) // 2:]))

# A zlib stream (RFC 1950) where gzip was promised: tlsrpt_inflate takes
# it; no reporter is known to send one, so not in good/.
write("extra/zlib-stream.json.gz",
      zlib.compress(read("gen/google-example.org-2026-11-19.json"), 9))

# 50,000 failure-details over 20 distinct (result, sender, MX) triples:
# the parser merges them into 20; 7.0 MB inflated, below TLSRPT_JSON_MAX
# (10 MiB), 48 KB compressed.
results = ["starttls-not-supported", "certificate-host-mismatch",
           "certificate-expired", "certificate-not-trusted",
           "validation-failure"]
senders = ["198.51.100.30", "198.51.100.31", "2001:db8:5::1", "2001:db8:5::2"]
mxs = ["mx1.example.com", "mx2.example.com"]
combos = []
for i in range(20):
    mx = mxs[i % 2]
    combos.append({"result-type": results[i % 5],
                   "sending-mta-ip": senders[i // 5],
                   "receiving-mx-hostname": mx})
details = []
for k in range(50000):
    d = dict(combos[k % 20])
    d["failed-session-count"] = 1 + k % 3
    details.append(d)
total = sum(d["failed-session-count"] for d in details)


def report(org, contact, rid, day, domain, success, failure, details,
           policy_string=None):
    pol = {"policy-type": "sts", "policy-domain": domain}
    if policy_string:
        pol["policy-string"] = policy_string
    return {"organization-name": org,
            "date-range": {"start-datetime": "2026-11-%02dT00:00:00Z" % day,
                           "end-datetime": "2026-11-%02dT23:59:59Z" % day},
            "contact-info": contact, "report-id": rid,
            "policies": [{"policy": pol,
                          "summary": {"total-successful-session-count": success,
                                      "total-failure-session-count": failure},
                          "failure-details": details}]}


COM = ["version: STSv1", "mode: enforce", "mx: mx1.example.com",
       "mx: mx2.example.com", "max_age: 604800"]
BULK = ("Bulk Sender Inc.", "tlsrpt@bulk-sender.example")
write("good/huge-details.json.gz",
      gz(compact(report(*BULK, "bulk-sender.example-20261121-example.com",
                        21, "example.com", 1250000, total, details, COM))))

# 1,500 distinct senders: past TLSRPT_DETAILS_MAX (1000); 500 sessions
# land in "more".
details = [{"result-type": "certificate-expired",
            "sending-mta-ip": "2001:db8:7::%x" % (k + 1),
            "receiving-mx-hostname": "mx2.example.com",
            "receiving-ip": "203.0.113.26", "failed-session-count": 1}
           for k in range(1500)]
write("extra/many-distinct.json.gz",
      gz(compact(report(*BULK, "bulk-sender.example-20261122-example.com",
                        22, "example.com", 3000, 1500, details, COM))))

# A valid report, over 1 MiB compressed (TLSRPT_GZ_MAX: the receiver's
# 413): 1,200 details whose additional-information is random.
rnd = random.Random(8460)
details = [{"result-type": "validation-failure",
            "sending-mta-ip": "198.51.100.30",
            "receiving-mx-hostname": "mx1.example.com",
            "failed-session-count": 1,
            "additional-information": "https://reports.bulk-sender.example/s/"
            + base64.urlsafe_b64encode(rnd.randbytes(1000)).decode()}
           for _ in range(1200)]
write("extra/too-big.json.gz",
      gz(compact(report(*BULK, "bulk-sender.example-20261120-example.com",
                        20, "example.com", 10, 1200, details, COM))))

# --- mail ---

GOOGLE_TEXT = "This is an aggregate TLS report from google.com\n"


def google_mail(jsonfile, boundary, date, attachment=None):
    """A mail as Google sends it: LF line ends, multipart/report with an
    unquoted report-type, parameters folded onto tab-indented lines."""
    j = read(jsonfile)
    r = json.loads(j)
    start = r["date-range"]["start-datetime"][:10]
    dom = r["policies"][0]["policy"]["policy-domain"]
    t0 = 1794614400 + (int(start[8:10]) - 14) * 86400
    fname = "google.com!%s!%d!%d.json.gz" % (dom, t0, t0 + 86399)
    if attachment is None:
        attachment = ("Content-Type: application/tlsrpt+gzip; \n"
                      "\tname=\"%s\"\n"
                      "Content-Disposition: attachment; \n"
                      "\tfilename=\"%s\"\n"
                      "Content-Transfer-Encoding: base64\n\n%s"
                      % (fname, fname, b64(gz(j))))
    rid = start.replace("-", ".") + "T00.00.00Z+" + dom
    return (
        "Date: %s\n"
        "TLS-Report-Domain: %s\n"
        "TLS-Report-Submitter: google.com\n"
        "Message-ID: <%s.tlsrpt@google.com>\n"
        "Subject: Report Domain: %s Submitter: google.com "
        "Report-ID: <%s@google.com>\n"
        "From: noreply-smtp-tls-reporting@google.com\n"
        "To: tlsrpt@%s\n"
        "Content-Type: multipart/report; boundary=\"%s\"; "
        "report-type=tlsrpt\n"
        "MIME-Version: 1.0\n"
        "\n"
        "--%s\n"
        "Content-Type: text/plain; charset=\"UTF-8\"; format=flowed; "
        "delsp=yes\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "%s"
        "\n"
        "--%s\n"
        "%s"
        "\n"
        "--%s--\n"
        % (date, dom, boundary[-12:], dom, rid, dom, boundary, boundary,
           GOOGLE_TEXT, boundary, attachment, boundary)).encode()


def microsoft_mail(jsonfile, guid, date):
    """A mail as Microsoft's reporter sends it: CRLF line ends, a .NET
    boundary that itself starts with "--", report-type quoted first."""
    j = read(jsonfile)
    r = json.loads(j)
    dom = r["policies"][0]["policy"]["policy-domain"]
    rid = r["report-id"]
    day = int(r["date-range"]["start-datetime"][8:10])
    t0 = 1794614400 + (day - 14) * 86400
    fname = "microsoft.com!%s!%d!%d!%s.json.gz" % (dom, t0, t0 + 86399,
                                                   rid.split("+")[0])
    bnd = "--boundary_0_" + guid
    lines = [
        "MIME-Version: 1.0",
        "From: tlsrpt-noreply@microsoft.com",
        "To: tlsrpt@%s" % dom,
        "Date: %s" % date,
        "Subject: Report Domain: %s Submitter: microsoft.com "
        "Report-ID: <%s>" % (dom, rid),
        "TLS-Report-Domain: %s" % dom,
        "TLS-Report-Submitter: microsoft.com",
        "Message-ID: <%s@microsoft.com>" % guid,
        "Content-Type: multipart/report; report-type=\"tlsrpt\";",
        " boundary=%s" % bnd,
        "",
        "--" + bnd,
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "This is an aggregate TLS report from microsoft.com.",
        "--" + bnd,
        "Content-Type: application/tlsrpt+gzip; name=\"%s\"" % fname,
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment",
        "",
    ]
    tail = ["--" + bnd + "--", ""]
    return ("\r\n".join(lines) + "\r\n" + b64(gz(j), "\r\n")
            + "\r\n".join(tail)).encode()


def plain_mail(org_addr, dom, subject, boundary, parts):
    """A mail from a smaller reporter: multipart/report, each part given
    as (headers, body)."""
    s = ("From: %s\n"
         "To: tlsrpt@%s\n"
         "Date: Sat, 21 Nov 2026 06:12:44 +0100\n"
         "Subject: %s\n"
         "Message-ID: <%s@%s>\n"
         "TLS-Report-Domain: %s\n"
         "TLS-Report-Submitter: %s\n"
         "MIME-Version: 1.0\n"
         "Content-Type: multipart/report; report-type=\"tlsrpt\";\n"
         "\tboundary=\"%s\"\n"
         "\n"
         "This is a multi-part message in MIME format.\n"
         % (org_addr, dom, subject, boundary, org_addr.split("@")[1], dom,
            org_addr.split("@")[1], boundary))
    for hdr, body in parts:
        s += "\n--%s\n%s\n\n%s" % (boundary, hdr, body)
    s += "\n--%s--\n" % boundary
    return s.encode()


TEXT = ("Content-Type: text/plain; charset=us-ascii",
        "This is an aggregate TLS report (RFC 8460).\n")

write("good/google.eml",
      google_mail("gen/google-example.org-2026-11-14.json",
                  "000000000000a1b2c3d4e5f61401",
                  "Sun, 15 Nov 2026 03:53:20 -0800"))
write("good/microsoft.eml",
      microsoft_mail("gen/microsoft-example.org-2026-11-17.json",
                     "4f0c9a3e-2d51-4b7e-8a16-c93e5d7b2f10",
                     "18 Nov 2026 02:14:07 +0000"))

# application/tlsrpt+json: the report not gzipped, still base64.
j = read("gen/hosting-webpki-invalid.json")
write("good/tlsrpt-json.eml", plain_mail(
    "tls-reports@hosting.example", "example.com",
    "Report Domain: example.com Submitter: hosting.example "
    "Report-ID: <hosting.example-20261119-example.com-1>",
    "=_tlsrpt_20261119_1", [TEXT, (
        "Content-Type: application/tlsrpt+json;\n"
        "\tname=\"hosting.example!example.com!1795046400!1795132799.json\"\n"
        "Content-Disposition: attachment;\n"
        "\tfilename=\"hosting.example!example.com!1795046400!1795132799.json\"\n"
        "Content-Transfer-Encoding: base64", b64(j))]))

# The report as application/octet-stream, known only by its .json.gz name.
j = read("gen/hosting-policy-invalid.json")
fname = "hosting.example!example.com!1795132800!1795219199.json.gz"
write("good/octet-stream.eml", plain_mail(
    "tls-reports@hosting.example", "example.com",
    "Report Domain: example.com Submitter: hosting.example "
    "Report-ID: <hosting.example-20261120-example.com-1>",
    "=_tlsrpt_20261120_1", [TEXT, (
        "Content-Type: application/octet-stream; name=\"%s\"\n"
        "Content-Disposition: attachment; filename=\"%s\"\n"
        "Content-Transfer-Encoding: base64" % (fname, fname),
        b64(gz(j)))]))

# An mbox (mboxo "From " lines) of two messages.
write("good/two.mbox",
      b"From noreply-smtp-tls-reporting@google.com Mon Nov 16 11:53:20 2026\n"
      + google_mail("gen/google-example.org-2026-11-15.json",
                    "000000000000a1b2c3d4e5f61501",
                    "Mon, 16 Nov 2026 03:53:20 -0800")
      + b"\nFrom noreply-smtp-tls-reporting@google.com Tue Nov 17 11:53:20 2026\n"
      + google_mail("gen/google-example.org-2026-11-16.json",
                    "000000000000a1b2c3d4e5f61601",
                    "Tue, 17 Nov 2026 03:53:20 -0800")
      + b"\n")

# The same report as good/microsoft-fetch-error.json, by mail: counts once.
write("dup/microsoft-fetch-error.eml",
      microsoft_mail("good/microsoft-fetch-error.json",
                     "9b2e7d41-6c3a-4f58-b0e9-1d4a7c2f8e63",
                     "22 Nov 2026 02:09:51 +0000"))

# --- bad ---

write("bad/empty.json", b"")
write("bad/truncated.json.gz", google20[:len(google20) // 2])

# 100 MiB of JSON white space after "{", about 100 KB compressed: below
# TLSRPT_GZ_MAX, a thousand times TLSRPT_JSON_MAX once inflated.
bomb = gz([b"{"] + [b" " * (1 << 20)] * 100)
write("bad/bomb.json.gz", bomb)
write("bad/bomb.eml", google_mail(
    "gen/google-example.org-2026-11-19.json", "000000000000a1b2c3d4e5f6b0b0",
    "Fri, 20 Nov 2026 03:53:20 -0800",
    "Content-Type: application/tlsrpt+gzip; \n"
    "\tname=\"google.com!example.org!1795046400!1795132799.json.gz\"\n"
    "Content-Disposition: attachment; \n"
    "\tfilename=\"google.com!example.org!1795046400!1795132799.json.gz\"\n"
    "Content-Transfer-Encoding: base64\n\n" + b64(bomb)))

# A picture where the report should be: no report in the message.
def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\x00\x00", 9)) + chunk(b"IEND", b""))
write("bad/wrong-type.eml", google_mail(
    "gen/google-example.org-2026-11-19.json", "000000000000a1b2c3d4e5f6cafe",
    "Fri, 20 Nov 2026 03:53:20 -0800",
    "Content-Type: image/png; name=\"report.png\"\n"
    "Content-Disposition: attachment; filename=\"report.png\"\n"
    "Content-Transfer-Encoding: base64\n\n" + b64(png)))

# Base64 with characters outside the alphabet in its second line and its
# last line cut short: a strict decoder refuses it, a lenient one gets
# data that does not gunzip.
lines = b64(gz(read("gen/google-example.org-2026-11-19.json"))).split("\n")
lines[1] = lines[1][:20] + "*!@#$%^&" + lines[1][28:]
lines[-2] = lines[-2][:len(lines[-2]) - 3]
write("bad/broken-base64.eml", google_mail(
    "gen/google-example.org-2026-11-19.json", "000000000000a1b2c3d4e5f6dead",
    "Fri, 20 Nov 2026 03:53:20 -0800",
    "Content-Type: application/tlsrpt+gzip; \n"
    "\tname=\"google.com!example.org!1795046400!1795132799.json.gz\"\n"
    "Content-Disposition: attachment; \n"
    "\tfilename=\"google.com!example.org!1795046400!1795132799.json.gz\"\n"
    "Content-Transfer-Encoding: base64\n\n" + "\n".join(lines)))
EOF
