/* config_smp_test.c - unit test of the loader's `smp = on|off` key
 * (boot/config.c, docs/smp.md), run hosted. Label: unit. */
#include <stdio.h>
#include <string.h>
#include "../../boot/config.h"

static int fails;
#define T(cond) do { if (!(cond)) { fails++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static int parse(const char *text, struct ahv_config *c, char *err)
{
	return ahv_config_parse(text, strlen(text), c, err, 200);
}

int main(void)
{
	struct ahv_config c;
	char err[200];
	/* default: off (the boot CPU only, today's behaviour) */
	T(parse("next = \\a.efi\n", &c, err) == 0 && c.smp == 0);
	T(parse("next = \\a.efi\nsmp = on\n", &c, err) == 0 && c.smp == 1);
	T(parse("next = \\a.efi\nsmp = off\n", &c, err) == 0 && c.smp == 0);
	/* fail closed: bad values and duplicates */
	T(parse("next = \\a.efi\nsmp = yes\n", &c, err) == -1 && strstr(err, "smp"));
	T(parse("next = \\a.efi\nsmp = 4\n", &c, err) == -1);
	T(parse("next = \\a.efi\nsmp = on\nsmp = off\n", &c, err) == -1 && strstr(err, "twice"));
	if (fails)
		printf("config_smp_test: %d failures\n", fails);
	else
		printf("config_smp_test: all passed\n");
	return fails != 0;
}
