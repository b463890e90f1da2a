// Test fixtures live here (temp folders, running the cutover binary, servers).
