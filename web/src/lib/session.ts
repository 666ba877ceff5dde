// Who is signed in: /v1/auth/me once at start (401 → the login form), logout closes the live stream.
import { useEffect, useState } from 'react';
import { ApiError, authLogout, authMe } from './api';
import { liveClose } from './events';
import type { Me } from './types';

export function useMe(): { me: Me | null | undefined; setMe: (me: Me | null) => void; logout: () => Promise<void>; error: unknown } {
  const [me, setMe] = useState<Me | null>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    authMe().then(setMe, (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) setMe(null);
      else {
        setError(err);
        setMe(null);
      }
    });
  }, []);
  const logout = async (): Promise<void> => {
    await authLogout().catch(() => undefined); // an expired session is logged out already
    liveClose();
    setMe(null);
  };
  return { me, setMe, logout, error };
}
