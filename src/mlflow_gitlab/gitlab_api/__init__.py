"""GitLab's REST API for one project: the retrying session, its errors, and its resources.

    client = connect(settings)             # nothing sent yet
    api = ProjectAPI(client)               # python-gitlab on the client's session
    mr = api.merge_request(7)
    client.check(client.session.put(url, data=body), "upload model.pt")
"""

from mlflow_gitlab.gitlab_api.client import GitLabClient, bearer_client, connect
from mlflow_gitlab.gitlab_api.resources import ProjectAPI
from mlflow_gitlab.gitlab_api.session import GitLabSession
from mlflow_gitlab.http import gitlab_message, short_url

__all__ = ["GitLabClient", "GitLabSession", "ProjectAPI", "bearer_client", "connect",
           "gitlab_message", "short_url"]
