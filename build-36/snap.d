build-36/snap.o: src/snap.c src/mtasts.h
src/mtasts.h:
