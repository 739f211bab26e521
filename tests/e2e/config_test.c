/* config_test.c - unit tests of the loader's configuration parser
 * (boot/config.c), run hosted. Label: unit. */
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
	const char *good =
		"# comment\n"
		"next = \\attest-hv\\vmlinuz.efi\r\n"
		"args = console=ttyS0 root=/dev/sda1 # not a comment inside? yes it is\n"
		"initrd = \\attest-hv\\initrd.img\n"
		"guest_key = \\k\\a.pem 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n"
		"allow_cpl3 = no\n"
		"log_port = 0x3f8\n"
		"pool_mib = 16\n"
		"hypervisor = off\n";
	T(parse(good, &c, err) == 0);
	T(!strcmp(c.next, "\\attest-hv\\vmlinuz.efi"));
	T(!strcmp(c.args, "console=ttyS0 root=/dev/sda1"));
	T(!strcmp(c.initrd, "\\attest-hv\\initrd.img"));
	T(c.n_keys == 1 && c.key_id[0][0] == 0x00 && c.key_id[0][1] == 0x11 && c.key_id[0][31] == 0xff);
	T(!c.allow_cpl3 && c.allow_gpa && c.hide_log_port && !c.hypervisor);
	T(c.log_port == 0x3f8 && c.pool_mib == 16);
	/* defaults */
	T(parse("next = \\a.efi\n", &c, err) == 0);
	T(c.allow_cpl3 && c.allow_gpa && c.log_port == 0x2f8 && c.pool_mib == 8 && c.hypervisor);
	/* no development key unless the config asks for one */
	T(c.dev_key == 0);
	T(parse("next = \\a.efi\ndev_key = allow\n", &c, err) == 0 && c.dev_key == 1);
	T(parse("next = \\a.efi\ndev_key = deny\n", &c, err) == 0 && c.dev_key == 0);
	T(parse("next = \\a.efi\ndev_key = maybe\n", &c, err) == -1);
	/* fail closed */
	T(parse("", &c, err) == -1 && strstr(err, "next"));
	T(parse("next = a.efi\n", &c, err) == -1);                     /* not absolute */
	T(parse("next = \\a.efi\nnext = \\b.efi\n", &c, err) == -1 && strstr(err, "twice"));
	T(parse("next = \\a.efi\nbogus = 1\n", &c, err) == -1 && strstr(err, "line 2"));
	T(parse("next = \\a.efi\nallow_cpl3 = maybe\n", &c, err) == -1);
	T(parse("next = \\a.efi\npool_mib = 2\n", &c, err) == -1);
	T(parse("next = \\a.efi\npool_mib = 99999999999999999999\n", &c, err) == -1);
	T(parse("next = \\a.efi\nlog_port = 0x10000\n", &c, err) == -1);
	T(parse("next = \\a.efi\nguest_key = \\a.pem\n", &c, err) == -1);
	T(parse("next = \\a.efi\nguest_key = \\a.pem 0011\n", &c, err) == -1);
	T(parse("next = \\a.efi\nguest_key = \\a.pem zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", &c, err) == -1);
	T(parse("next = \\a.efi\njunk\n", &c, err) == -1);
	T(ahv_config_parse("next = \\a.efi\n\0x", 16, &c, err, sizeof(err)) == -1);
	char big[3000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "args = ", 7);
	big[sizeof(big) - 1] = 0;
	T(parse(big, &c, err) == -1);
	for (int i = 0; i <= 16; i++) {
		static char many[40 * 100];
		if (i == 0)
			strcpy(many, "next = \\a.efi\n");
		strcat(many, "guest_key = \\k.pem 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
		if (i == 16)
			T(parse(many, &c, err) == -1 && strstr(err, "more than"));
	}
	/* smp = on|off (docs/smp.md): default off, bad values and duplicates
	 * fail closed */
	T(parse("next = \\a.efi\n", &c, err) == 0 && c.smp == 0);
	T(parse("next = \\a.efi\nsmp = on\n", &c, err) == 0 && c.smp == 1);
	T(parse("next = \\a.efi\nsmp = off\n", &c, err) == 0 && c.smp == 0);
	T(parse("next = \\a.efi\nsmp = yes\n", &c, err) == -1 && strstr(err, "smp"));
	T(parse("next = \\a.efi\nsmp = 4\n", &c, err) == -1);
	T(parse("next = \\a.efi\nsmp = on\nsmp = off\n", &c, err) == -1 && strstr(err, "twice"));
	/* dma_protection = on|off (docs/iommu.md): default on, bad values and
	 * duplicates fail closed */
	T(parse("next = \\a.efi\n", &c, err) == 0 && c.dma_protection == 1);
	T(parse("next = \\a.efi\ndma_protection = off\n", &c, err) == 0 && c.dma_protection == 0);
	T(parse("next = \\a.efi\ndma_protection = on\n", &c, err) == 0 && c.dma_protection == 1);
	T(parse("next = \\a.efi\ndma_protection = no\n", &c, err) == -1 && strstr(err, "dma_protection"));
	T(parse("next = \\a.efi\ndma_protection = off\ndma_protection = off\n", &c, err) == -1 &&
	  strstr(err, "twice"));
	if (fails)
		printf("config_test: %d failures\n", fails);
	else
		printf("config_test: all passed\n");
	return fails != 0;
}
