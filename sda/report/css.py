"""The report's stylesheet (inlined into the HTML page)."""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a;background:#fff;margin:0}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;border-bottom:3px solid #2c7bb6;padding-bottom:.3rem}
h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin:.2rem 0 .5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f5f8}
td:first-child{white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:1rem 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0;break-inside:avoid}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:.8rem}
@media print{main{max-width:none}.card{page-break-inside:avoid}}
"""
