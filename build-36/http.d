build-36/http.o: src/http.c src/mtasts.h
src/mtasts.h:
