/* Thread-local variables: initialised, zeroed, and written. */
#include <stdio.h>

__thread int counter = 41;
__thread char name[16] = "tls";
__thread long zeroed[4];

int main(void) {
    counter++;
    name[3] = '!';
    zeroed[2] += 5;
    printf("counter %d name %s zeroed %ld %ld\n", counter, name, zeroed[0], zeroed[2]);
    printf("address in TLS block: %d\n", (char *)&counter != (char *)0);
    return 0;
}
