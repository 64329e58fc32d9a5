"""The web console's static files (index.html, JS, CSS), served by `controller.api_ui`."""
