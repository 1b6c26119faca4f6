build-36/main.o: src/main.c src/mtasts.h
src/mtasts.h:
