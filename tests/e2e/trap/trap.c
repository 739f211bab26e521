/*
 * trap.c - the private IDT of the CPL0 test payloads (trap.h, trap.S).
 */
#include <efi.h>
#include <efilib.h>
#include <stdint.h>
#include "ahv/x86/cpu.h"
#include "trap.h"

int conf_try(trap_fn fn, void *arg);
extern uint64_t conf_vec, conf_err;
extern char conf_stub0[];

/* 64-bit IDT gate (SDM Vol. 3A §7.14.1 "64-Bit Mode IDT"): type 0xE
 * interrupt gate, present, DPL 0. */
struct __attribute__((packed)) idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};
#define IDT_TYPE_INT_GATE_P 0x8E
static struct idt_gate idt[32] __attribute__((aligned(16)));
static struct ahv_dtr my_idt;

void trap_idt_gate(unsigned v, const void *handler)
{
	uint64_t a = (uint64_t)(uintptr_t)handler;
	idt[v & 31] = (struct idt_gate){(uint16_t)a, ahv_read_cs(), 0, IDT_TYPE_INT_GATE_P, (uint16_t)(a >> 16),
					(uint32_t)(a >> 32), 0};
}

void trap_idt_init(void)
{
	for (unsigned v = 0; v < 32; v++)
		trap_idt_gate(v, conf_stub0 + 16 * v);
	my_idt.limit = sizeof(idt) - 1;
	my_idt.base = (uint64_t)(uintptr_t)idt;
}

void trap_idt_enter(struct ahv_dtr *saved)
{
	__asm__ volatile("cli" ::: "memory");
	ahv_sidt(saved);
	__asm__ volatile("lidt %0" ::"m"(my_idt) : "memory");
}

void trap_idt_leave(const struct ahv_dtr *saved)
{
	__asm__ volatile("lidt %0" ::"m"(*saved) : "memory");
}

int trap_call(trap_fn fn, void *arg, uint64_t *vec, uint64_t *err)
{
	struct ahv_dtr fw;
	trap_idt_enter(&fw);
	int f = conf_try(fn, arg);
	trap_idt_leave(&fw);
	*vec = f ? conf_vec : 0;
	*err = f ? conf_err : 0;
	return f;
}
