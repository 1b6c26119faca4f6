build-36/log.o: src/log.c src/mtasts.h
src/mtasts.h:
