/* Makes raw system calls with the alignment-check flag (AC) set, as a
 * program may that wants its own misaligned accesses caught: the kernel's
 * code must not be checked (Linux clears AC on entry). Prints whether each
 * call returned what the libc wrapper does. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    long pid, uid;
    __asm__ volatile("pushfq; orq $0x40000, (%%rsp); popfq\n\t"
                     "mov $39, %%eax; syscall; mov %%rax, %0\n\t"
                     "mov $102, %%eax; syscall; mov %%rax, %1\n\t"
                     "pushfq; andq $~0x40000, (%%rsp); popfq"
                     : "=r"(pid), "=r"(uid)
                     :
                     : "rax", "rcx", "r11", "memory", "cc");
    printf("getpid %s, getuid %s\n", pid == getpid() ? "right" : "wrong", uid == (long)getuid() ? "right" : "wrong");
    return 0;
}
