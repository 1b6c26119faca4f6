build-36/dns.o: src/dns.c src/mtasts.h
src/mtasts.h:
