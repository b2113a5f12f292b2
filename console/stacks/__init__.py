"""Stacks: compose projects deployed to an endpoint, from the console's editor, an upload or an app
template, and projects found on the engine (made by docker-compose) that the console can adopt.

compose/ is the compose implementation (load, plan, apply through the Engine API); models.py the
Stack record; service.py loads a Stack into a Project; discovery.py finds projects on an engine;
jobs.py runs deploys, stops, starts and removals as jobs; catalog.py the app templates; views*.py,
forms.py, urls.py the pages; consumers.py the combined live logs.
"""
