/* Linked against libplugin.so: run after the library is removed, the
 * dynamic loader must refuse it with its own message. */
#include <stdio.h>
const char *plugin_name(void);
int main(void) { printf("%s\n", plugin_name()); return 0; }
