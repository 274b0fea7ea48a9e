# sweeper and its pinned aiperf in one image, for `sweeper export k8s` (or any container
# scheduler). The aiperf venv is made at build time by sweeper's own managed-venv code
# (`sweeper setup`), so pods start without reaching PyPI.
#   docker build -t <registry>/sweeper:0.1 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sweeper /usr/local/bin/sweeper
# The managed venv lives in the image (sweeper finds it through SWEEPER_VENV_DIR).
ENV SWEEPER_VENV_DIR=/opt/sweeper/aiperf-venv
RUN sweeper setup
# Results go to the working directory: the Job mounts its PersistentVolumeClaim here.
WORKDIR /results
CMD ["sweeper", "--help"]
