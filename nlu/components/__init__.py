"""Custom Rasa components, imported by module path from nlu/config.yml (Rasa runs in nlu/)."""
