/* Never ends on its own: for the Ctrl-C test. */
int main(void) {
    for (volatile unsigned long i = 0;; i++) {
    }
}
