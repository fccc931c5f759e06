"""The connect page's HTML: Jinja2 templates (autoescaped), its stylesheet and one small script, and the
shapes the handler turns into HTTP responses (``page``). No build step: what is here is what is served.

    page       Page, Redirect and Asset: what a use case answers, before it becomes HTTP
    render     the template environment (autoescaping, strict undefined) and the security headers
"""
