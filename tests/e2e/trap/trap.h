/*
 * trap.h - catching exceptions in the CPL0 test payloads (conformance,
 * hostile): a private IDT whose vectors 0..31 resume after the call that
 * faulted (trap.S), loaded with interrupts off around each call only.
 * Needs <efi.h> and "ahv/x86/cpu.h" first.
 */
#ifndef AHV_E2E_TRAP_H
#define AHV_E2E_TRAP_H
#include <stdint.h>

typedef void (*trap_fn)(void *arg);

/* Build the private IDT (once, before the first trap_call). */
void trap_idt_init(void);
/* Point vector v of the private IDT at handler (an interrupt gate). */
void trap_idt_gate(unsigned v, const void *handler);
/* fn(arg) with interrupts off and the private IDT loaded; the firmware's
 * IDT is back on return (interrupts stay off). 1 when fn raised an
 * exception (*vec, *err), else 0 (*vec = *err = 0). */
int trap_call(trap_fn fn, void *arg, uint64_t *vec, uint64_t *err);
/* Load the private IDT (interrupts off) until trap_idt_leave(): for code
 * that takes NMIs (trap_nmi_count) over many calls. */
void trap_idt_enter(struct ahv_dtr *saved);
void trap_idt_leave(const struct ahv_dtr *saved);

/* trap.S: NMIs counted by trap_nmi_count. */
extern volatile uint64_t trap_nmis;
extern char trap_nmi_count[];
/* trap.S: a hardware task switch in legacy protected mode (the block's
 * layout is described there). */
void conf_legacy_task(void *blk);
void conf_compat_ljmp(void *far_ptr, uint64_t cs32);
extern char conf_task_b[], conf_legacy_after_ljmp[];
#endif
