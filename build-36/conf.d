build-36/conf.o: src/conf.c src/mtasts.h
src/mtasts.h:
