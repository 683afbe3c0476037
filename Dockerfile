# syntax=docker/dockerfile:1
# Images for hotreload: `webhook` (admission webhook + rollout controller) and
# `reloader` (the sidecar and its init steps). Static binaries on distroless,
# non-root by default.
#
# The canonical images are those of `make images` / `make push`, built without
# a Docker daemon for linux/amd64 and linux/arm64 (hack/tools/imagebuild). This
# file is an alternative where Docker runs (`make docker-images`):
#   docker build --target webhook  -t hotreload/webhook:dev .
#   docker build --target reloader -t hotreload/reloader:dev .

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/hotreload/hotreload/internal/version.Version=${VERSION}" \
      -o /out/ ./cmd/webhook ./cmd/reloader ./cmd/validator

FROM gcr.io/distroless/static-debian12:nonroot AS webhook
COPY --from=build /out/webhook /webhook
USER 65532:65532
ENTRYPOINT ["/webhook"]
CMD ["serve"]

# The reloader runs as the app's UID when the webhook knows it; the image's
# default user is non-root.
FROM gcr.io/distroless/static-debian12:nonroot AS reloader
COPY --from=build /out/reloader /reloader
# Copied into pods that ask for validation, beside the reloader.
COPY --from=build /out/validator /validator
USER 65532:65532
ENTRYPOINT ["/reloader"]
