build-36/loop.o: src/loop.c src/mtasts.h
src/mtasts.h:
