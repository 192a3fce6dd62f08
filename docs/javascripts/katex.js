// Render the math pymdownx.arithmatex marks up (generic mode: \( \) inline, \[ \] display,
// inside .arithmatex elements) with the KaTeX vendored in assets/katex/. Material's document$
// emits on load and after each instant navigation, so this also works if that is turned on.
document$.subscribe(({ body }) => {
  for (const element of body.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,  // a typo shows the source in red, not an empty spot
    })
  }
})
