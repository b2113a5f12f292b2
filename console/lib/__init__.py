"""Small pure helpers shared by the console's settings and apps."""
