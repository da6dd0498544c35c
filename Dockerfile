# Builds the single `mrjbot` binary; compose.yaml runs it as several services.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p mrjbot

FROM debian:bookworm-slim
# tesseract with Persian and English data: receipt OCR (MRJ_OCR)
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tesseract-ocr tesseract-ocr-fas tesseract-ocr-eng postgresql-client && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/mrjbot /usr/local/bin/mrjbot
USER nobody
ENTRYPOINT ["mrjbot"]
