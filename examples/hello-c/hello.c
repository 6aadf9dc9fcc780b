#include <stdio.h>

int main(void) {
    puts("Hello from demo/hello-c, built by Locara!");
    return 0;
}
