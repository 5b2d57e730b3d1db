# The cvm-preflight container image (docs/image.md): the agent of the
# DaemonSet (manifests/base/daemonset.yaml) and the one-shot commands.
#   docker build -t REGISTRY/cvm-preflight:0.1.0 .      (or buildah bud, podman build)
# Build stage: Debian 12 with the packages ./make.sh lists, a Release build
# of the binary alone, and image/make_rootfs.sh laying out the runtime
# stage's files: the stripped binary, the shared libraries it links and the
# ones it dlopens that the image keeps (build/image-libraries.txt: librpm
# with its rpmrc), CA certificates, passwd/group, /tmp, licences.
# The tests (tests/image/) build the runtime stage below from the same
# make_rootfs.sh with buildah and run it; this build stage needs a registry
# (debian:12), which the tests do not have.
FROM debian:12 AS build
COPY make.sh /src/make.sh
RUN /src/make.sh deps && rm -rf /var/lib/apt/lists/*
COPY . /src
# The source revision for --version and the agent's logs (no .git here).
ARG CVM_REVISION=unknown
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DCVM_BUILD_TESTS=OFF \
      -DCVM_REVISION="$CVM_REVISION" \
 && cmake --build /build --target cvm-preflight -j"$(nproc)" \
 && /src/image/make_rootfs.sh /build/cvm-preflight /rootfs /build/image-libraries.txt

# Runtime stage: nothing but those files (no shell, no package manager).
# tests/image/build_image.sh reads the instructions below and knows only
# COPY --from=build /rootfs/ /, ENV, USER, ENTRYPOINT, CMD, LABEL, WORKDIR.
FROM scratch AS runtime
COPY --from=build /rootfs/ /
ENV PATH=/usr/bin
# nonroot (65532) by default: --version, rules, explain, facts and scans of
# folders it may read need no root. The DaemonSet runs it as uid 0 with
# CAP_SYS_PTRACE to read the host (docs/deployment.md).
USER 65532:65532
ENTRYPOINT ["/usr/bin/cvm-preflight"]
CMD ["--help"]
