build-36/unit.o: tests/unit.c src/mtasts.h
src/mtasts.h:
