build-36/policy.o: src/policy.c src/mtasts.h
src/mtasts.h:
