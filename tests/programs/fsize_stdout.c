/* Standard output is a regular file and a write crosses RLIMIT_FSIZE: the
 * first is cut short, the next ends the process by SIGXFSZ (in hx the cut
 * write once left the program waiting for the file to be writable). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
int main(void){ struct rlimit l={100,100}; setrlimit(RLIMIT_FSIZE,&l);
 char buf[300]; memset(buf,'a',sizeof buf); long r=write(1,buf,150); fprintf(stderr,"first %ld\n",r); r=write(1,buf,10); fprintf(stderr,"second %ld\n",r); return 0;}
