build-36/diag.o: src/diag.c src/mtasts.h
src/mtasts.h:
