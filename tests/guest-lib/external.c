/* An external program built against an installed libattest-hv with
 * `pkg-config --cflags --libs libattest-hv` alone. */
#include <stdio.h>
#include <stdlib.h>

#include <attest-hv/attest.h>

int main(void)
{
	ahvl_request *r;
	uint8_t *enc;
	size_t len;
	if (ahvl_request_new(&r, AHV_WIRE_HASH_SHA256) || ahvl_request_random_nonce(r, 16) ||
	    ahvl_request_add_section(r, NULL, ".text", NULL) < 0 ||
	    ahvl_request_encode(r, NULL, &enc, &len) || len != AHV_REQUEST_SIZE(1)) {
		fprintf(stderr, "external: %s\n", ahvl_error_detail());
		return 1;
	}
	printf("external: libattest-hv %s, request of %zu bytes, %s\n", ahvl_version(), len,
	       ahvl_strerror(AHVL_E_NO_HYPERVISOR));
	free(enc);
	ahvl_request_free(r);
	return 0;
}
