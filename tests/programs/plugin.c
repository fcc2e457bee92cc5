/* A shared library for the dlopen test. */
int plugin_counter = 10;
int plugin_add(int a, int b) { return a + b + plugin_counter++; }
const char *plugin_name(void) { return "plugin v1"; }
