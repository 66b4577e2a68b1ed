# Sandbox targets (included by the main Makefile). See sandbox/README.md.

SANDBOX_ARGS ?=

.PHONY: sandbox sandbox-echo browser-deps

# The local Telegram Bot API server + web chat, for manual use (Ctrl+C to stop).
sandbox: venv
	$(PY) -m sandbox $(SANDBOX_ARGS)

# The same with a tiny echo bot attached: try the web chat without Diancai.
sandbox-echo: venv
	$(PY) -m sandbox --echo-bot $(SANDBOX_ARGS)

# Debian's chromium and CJK/emoji fonts for the Playwright browser tests, installed only where
# missing (Playwright cannot download its own browsers here). Needs root for apt-get.
browser-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || missing="$$missing fonts-noto-color-emoji"; \
	if [ -n "$$missing" ]; then \
		echo "browser-deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

TEST_DEPS += browser-deps
