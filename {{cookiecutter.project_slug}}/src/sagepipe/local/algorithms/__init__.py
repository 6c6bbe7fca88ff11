"""Built-in algorithm modes of AWS images, as standalone scripts run in the image's runtime."""
