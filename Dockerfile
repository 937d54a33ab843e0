# vakt for the production topology (docker-compose.yml). Stages that use an
# external ClickHouse need no libchdb; the embedded default does.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /vakt ./cmd/vakt

FROM debian:bookworm-slim
COPY --from=build /vakt /usr/local/bin/vakt
USER nobody
ENTRYPOINT []
