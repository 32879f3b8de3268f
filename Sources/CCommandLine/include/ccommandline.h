/* The command line of an executable, in both builds: Embedded Swift has no CommandLine. Only
 * executables depend on this module, never the library: its capture runs before main, and a
 * library's would run in its host's process. */
#ifndef CCOMMANDLINE_H
#define CCOMMANDLINE_H

/* argc. */
int ccommandline_count(void);
/* argv[index], or NULL outside 0 ..< ccommandline_count(). */
const char *ccommandline_argument(int index);

#endif
