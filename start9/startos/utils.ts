// Constants shared by the package's modules; the Dockerfile and docker_entrypoint.sh agree with them.

/** Where the `main` volume is mounted in the server's container: CRM_DATA_DIR. */
export const DATA_DIR = '/data';
/** The HTTP API's port inside the container (CRM_PORT). */
export const API_PORT = 8080;
/** The server's user in the image; the Dockerfile creates it with these ids. */
export const APP_USER = 'crm';
export const APP_OWNER = { uid: 10001, gid: 10001 };
/** Where the Dockerfile puts the application. */
export const APP_DIR = '/app';
/** The first admin's username; its generated password is in the store. */
export const ADMIN_USERNAME = 'admin';
