"""Users and sign-in. Teams, roles, per-endpoint access and API tokens come later."""
