# Sandbox targets (included by the main Makefile). See sandbox/README.md.

SANDBOX_ARGS ?=

.PHONY: sandbox sandbox-echo browser-deps

# The local Telegram Bot API server + web chat, for manual use (Ctrl+C to stop).
sandbox: venv
	$(PY) -m sandbox $(SANDBOX_ARGS)

# The same with a tiny echo bot attached: try the web chat without Diancai.
sandbox-echo: venv
	$(PY) -m sandbox --echo-bot $(SANDBOX_ARGS)

# Debian's chromium and the emoji font for the Playwright browser tests, installed only where
# missing (Playwright cannot download its own browsers here). Needs root or sudo for apt-get.
browser-deps: cjk-fonts
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	test -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || missing="$$missing fonts-noto-color-emoji"; \
	if [ -n "$$missing" ]; then echo "browser-deps: installing$$missing"; $(APT_INSTALL); fi

TEST_DEPS += browser-deps
