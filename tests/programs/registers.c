/* A syscall must preserve every register but rax, rcx and r11 -- the vector
 * registers (xmm and the upper halves of ymm) and the flags included -- and
 * must not touch the red zone below rsp; it leaves rcx = the address after
 * the instruction and r11 = the flags. Plants known values, makes a raw
 * getrandom (whose kernel side does real work: hx's generator uses SSE), and
 * checks them all, 1200 times: later calls go through whatever earlier ones
 * may have changed (hx rewrites a `syscall` instruction that keeps trapping,
 * once its process made 1000 trap-path calls). Prints "registers preserved"
 * or what changed. */
#include <stdio.h>
#include <string.h>

unsigned long gpr_in[12] = {0x1111111111, 0x2222222222, 0x3333333333, 0x4444444444,
                            0x5555555555, 0x8888888888, 0x9999999999, 0xaaaaaaaaaa,
                            0xcccccccccc, 0xdddddddddd, 0xeeeeeeeeee, 0xffffffffff};
unsigned long gpr_out[12], red_out[8], saved_rbp, rcx_out, r11_out, flags_out, return_address;
unsigned char carry_out;
unsigned char ymm_in[16][32], ymm_out[16][32], random_buf[64];
static const char *gpr_names[12] = {"rbx", "rdx", "rsi", "rdi", "rbp", "r8",
                                    "r9",  "r10", "r12", "r13", "r14", "r15"};

#define LOADY(n) "vmovdqu ymm_in+" #n "*32(%%rip), %%ymm" #n "\n"
#define SAVEY(n) "vmovdqu %%ymm" #n ", ymm_out+" #n "*32(%%rip)\n"
#define RED(n) "mov %%rax, -8-8*" #n "(%%rsp)\n inc %%rax\n"
#define UNRED(n) "mov -8-8*" #n "(%%rsp), %%rax\n mov %%rax, red_out+8*" #n "(%%rip)\n"

static int check(void);

int main(void) {
    int bad = 0;
    for (int i = 0; i < 1200 && !bad; i++)
        bad = check();
    printf(bad ? "registers changed\n" : "registers preserved\n");
    return bad;
}

static int check(void) {
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++)
            ymm_in[r][b] = (unsigned char)(r * 32 + b + 1);
    /* getrandom(random_buf, 64, 0): rdi, rsi, rdx carry its arguments. */
    gpr_in[1] = 0;
    gpr_in[2] = sizeof random_buf;
    gpr_in[3] = (unsigned long)random_buf;
    __asm__ volatile(
        "mov %%rbp, saved_rbp(%%rip)\n"
        "sub $128, %%rsp\n" /* below the compiler's own red zone */
        LOADY(0) LOADY(1) LOADY(2) LOADY(3) LOADY(4) LOADY(5) LOADY(6) LOADY(7)
        LOADY(8) LOADY(9) LOADY(10) LOADY(11) LOADY(12) LOADY(13) LOADY(14) LOADY(15)
        "movabs $0x5a5a5a5a00000000, %%rax\n"
        RED(0) RED(1) RED(2) RED(3) RED(4) RED(5) RED(6) RED(7)
        "mov gpr_in+0x00(%%rip), %%rbx\n mov gpr_in+0x08(%%rip), %%rdx\n"
        "mov gpr_in+0x10(%%rip), %%rsi\n mov gpr_in+0x18(%%rip), %%rdi\n"
        "mov gpr_in+0x20(%%rip), %%rbp\n mov gpr_in+0x28(%%rip), %%r8\n"
        "mov gpr_in+0x30(%%rip), %%r9\n  mov gpr_in+0x38(%%rip), %%r10\n"
        "mov gpr_in+0x40(%%rip), %%r12\n mov gpr_in+0x48(%%rip), %%r13\n"
        "mov gpr_in+0x50(%%rip), %%r14\n mov gpr_in+0x58(%%rip), %%r15\n"
        "mov $318, %%eax\n" /* getrandom */
        "stc\n" /* a flag that must survive */
        "syscall\n"
        "1: setc carry_out(%%rip)\n"
        "mov %%rcx, rcx_out(%%rip)\n mov %%r11, r11_out(%%rip)\n"
        "lea -128(%%rsp), %%rsp\n pushfq\n pop flags_out(%%rip)\n lea 128(%%rsp), %%rsp\n"
        "lea 1b(%%rip), %%rcx\n mov %%rcx, return_address(%%rip)\n"
        "mov %%rbx, gpr_out+0x00(%%rip)\n mov %%rdx, gpr_out+0x08(%%rip)\n"
        "mov %%rsi, gpr_out+0x10(%%rip)\n mov %%rdi, gpr_out+0x18(%%rip)\n"
        "mov %%rbp, gpr_out+0x20(%%rip)\n mov %%r8, gpr_out+0x28(%%rip)\n"
        "mov %%r9, gpr_out+0x30(%%rip)\n  mov %%r10, gpr_out+0x38(%%rip)\n"
        "mov %%r12, gpr_out+0x40(%%rip)\n mov %%r13, gpr_out+0x48(%%rip)\n"
        "mov %%r14, gpr_out+0x50(%%rip)\n mov %%r15, gpr_out+0x58(%%rip)\n"
        SAVEY(0) SAVEY(1) SAVEY(2) SAVEY(3) SAVEY(4) SAVEY(5) SAVEY(6) SAVEY(7)
        SAVEY(8) SAVEY(9) SAVEY(10) SAVEY(11) SAVEY(12) SAVEY(13) SAVEY(14) SAVEY(15)
        UNRED(0) UNRED(1) UNRED(2) UNRED(3) UNRED(4) UNRED(5) UNRED(6) UNRED(7)
        "add $128, %%rsp\n"
        "mov saved_rbp(%%rip), %%rbp\n"
        :
        :
        : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
          "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
    int bad = 0;
    for (int i = 0; i < 12; i++)
        if (gpr_out[i] != gpr_in[i])
            printf("%s: %#lx -> %#lx\n", gpr_names[i], gpr_in[i], gpr_out[i]), bad = 1;
    for (int r = 0; r < 16; r++)
        if (memcmp(ymm_in[r], ymm_out[r], 32))
            printf("ymm%d changed\n", r), bad = 1;
    for (int i = 0; i < 8; i++)
        if (red_out[i] != 0x5a5a5a5a00000000UL + i)
            printf("red zone word %d: %#lx\n", i, red_out[i]), bad = 1;
    if (!carry_out)
        printf("the carry flag was lost\n"), bad = 1;
    if (rcx_out != return_address)
        printf("rcx: %#lx, not the return address %#lx\n", rcx_out, return_address), bad = 1;
    /* sysret restores the flags from r11: they match after the call. */
    if ((r11_out & 0xcd5) != (flags_out & 0xcd5))
        printf("r11: %#lx, the flags are %#lx\n", r11_out, flags_out), bad = 1;
    return bad;
}
