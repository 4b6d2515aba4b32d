/* abort() kills the program with SIGABRT. */
#include <stdlib.h>
#include "selftest.h"

int main(void)
{
	selftest_start("abort");
	abort();
}
