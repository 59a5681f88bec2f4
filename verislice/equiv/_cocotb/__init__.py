"""The cocotb entry point run inside the simulator (loaded by module name from this directory by
cocotb's PyGPI, not imported as a package member: see verislice.equiv._runner). This file makes it
part of the installed package."""
