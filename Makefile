# emberkv: `make build` builds everything and runs the demo; `make test` runs every test.
.PHONY: build demo test bench

build:
	cargo build --release --workspace
	$(MAKE) demo

demo:
	cargo run --release -p emberkv --example chat

test:
	scripts/test.sh

bench:
	cargo bench -p emberkv
