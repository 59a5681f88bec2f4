"""The cocotb test module run inside the simulator (imported by file location, not as a package
member: see verislice.equiv._runner). This file makes it part of the installed package."""
