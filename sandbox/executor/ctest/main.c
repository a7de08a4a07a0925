// The C executor's unit tests: `make unit` builds them twice, plain and
// under AddressSanitizer and UndefinedBehaviorSanitizer, and runs both.
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../executor.h"
#include "check.h"

int check_failures;
jmp_buf check_jump;
int check_armed;
char check_message[1024];

// husk_fail is the executor's way out; here it returns to EXPECT_FAIL.
void husk_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(check_message, sizeof check_message, fmt, ap);
	va_end(ap);
	if (!check_armed) {
		fprintf(stderr, "unexpected failure (%d): %s\n", code, check_message);
		exit(2);
	}
	longjmp(check_jump, 1);
}

static char temp_root[64];

const char *make_temp(void)
{
	static int n;
	static char path[128];
	snprintf(path, sizeof path, "%s/%d", temp_root, n++);
	if (mkdir(path, 0755) != 0) {
		perror(path);
		exit(2);
	}
	return path;
}

void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

int main(void)
{
	snprintf(temp_root, sizeof temp_root, "/tmp/husk-ctest.XXXXXX");
	if (mkdtemp(temp_root) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_spec();
	test_paths();
	test_user();
	test_launch();
	test_entry();
	test_pid1();
	char rm[128];
	snprintf(rm, sizeof rm, "rm -rf '%s'", temp_root);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", temp_root);
	if (check_failures) {
		fprintf(stderr, "ctest: %d checks failed\n", check_failures);
		return 1;
	}
	printf("ctest: ok\n");
	return 0;
}
