/* Exits with the status given as argv[1]. */
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	exit(atoi(argv[1]));
}
