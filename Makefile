# Shortcuts for the two Quick start commands (README.md); the scripts do the work, so a machine
# without make runs them directly.
.PHONY: run test clean

run:
	scripts/run.sh

test:
	scripts/test.sh

clean:
	rm -rf build build-asan
