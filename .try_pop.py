import time, resource, sys
from pathlib import Path
from automation.config import load_config
from automation.http import HttpClient
from automation.layout import RegistryLayout
from automation.popularity import load_npm_popularity, load_pypi_popularity
layout = RegistryLayout.at(sys.argv[1])
with HttpClient(load_config()) as http:
    t=time.time(); p=load_pypi_popularity(http); print("pypi", round(time.time()-t,2), p.source, p.population, p.notes, p.entries[:3])
    t=time.time(); n=load_npm_popularity(http, layout, 20000); print("npm", round(time.time()-t,2), n.source, n.as_of, n.population, n.notes, n.entries[:5], n.entries[-1])
    print("maxrss MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)
