"""The engine's HTTP side: JSON API, provider callbacks (dashboard pages come with AI-6)."""
