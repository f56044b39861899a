"""Pictures: `dcgan sample` in every mode, plots, movies, filters, and the image files they write."""
